"""HDF5 shards (schema 1): the writer every dataset command uses and the reader training uses.

``schema.Sample`` is what a job makes; ``writer.write_shard`` writes a list of them
atomically; ``reader.ShardReader`` and ``dataset.ShardDataset`` read them back.
"""

from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import ShardReader, list_shards
from blurgen.shards.schema import SCHEMA_VERSION, Sample, sample_digest
from blurgen.shards.writer import write_shard

__all__ = ["SCHEMA_VERSION", "Sample", "ShardDataset", "ShardReader", "list_shards", "sample_digest", "write_shard"]
