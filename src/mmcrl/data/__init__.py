"""Data: latent SCMs, sharing patterns, injective mixing maps and datasets on disk."""

from mmcrl.data.synthetic import Dataset, SyntheticSpec, generate, load_dataset, write_dataset

__all__ = ["Dataset", "SyntheticSpec", "generate", "load_dataset", "write_dataset"]
