"""What comes after scoring: the files other tools read, without a converter.

- :mod:`.regions_file`: the scored windows as a narrowPeak whose line i is score row i
  (Fi-NeMo ``-p``, ``modisco seqlet-bed -p``).
- :mod:`.export`: a score file in chrombpnet's HDF5 layout, as modisco's npz pair, or as
  Fi-NeMo's regions npz, optionally without the windows holding N.
- :mod:`.average`: the mean of the score files of several models (folds).
- :mod:`.summary`: what ``genolift info SCORES`` prints, with the commands that come next.

Pure numpy and h5py; nothing here imports TensorFlow.
"""

from .average import average
from .export import FORMATS, Exported, export, export_paths
from .regions_file import regions_path_for, regions_rows, write_regions, write_regions_file

__all__ = ["FORMATS", "Exported", "average", "export", "export_paths", "regions_path_for", "regions_rows",
           "write_regions", "write_regions_file"]
