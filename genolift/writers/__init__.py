"""Output writers; axis transposes for consumers happen only here."""
