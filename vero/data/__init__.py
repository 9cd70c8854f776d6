"""The data stage: canonical records, readers, VeroMini, filtering and training mixtures.

The record API other stages use is re-exported here: `SampleRecord`, `validate_record`,
`to_pil_images`, `read_parquet_records`, `write_records`.
"""

from vero.data.io import read_parquet_records, write_records
from vero.data.schema import SampleRecord, check_record, to_pil_images, validate_record

__all__ = [
    "SampleRecord",
    "check_record",
    "read_parquet_records",
    "to_pil_images",
    "validate_record",
    "write_records",
]
