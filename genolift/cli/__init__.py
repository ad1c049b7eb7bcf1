"""The ``genolift`` command line: thin click commands over the library."""
