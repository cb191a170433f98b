"""Data: the cache directory (download, checksums, safe extraction), file formats, and the
device-resident batch loader with batched augmentation."""
