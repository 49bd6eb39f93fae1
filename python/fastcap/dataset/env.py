"""The environment variable naming the personal dataset (no imports: the CLI's parser reads it)."""

DEFAULT_DATASET_ENV = "FASTCAP_DATASET"
