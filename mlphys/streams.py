"""Image folders and HDF5 arrays read batch by batch from disk (`--stream`), for data
larger than memory.

An `ImageStream` is a list of image files of one size. It behaves enough like an array
of images (`len`, `shape`, indexing by an array of indices) for the dataset splits to
work on it unchanged, and hands Keras a `tf.data` pipeline: shuffle the file names,
read, decode and resize in parallel, batch, prefetch. Only a few batches are ever in
memory. An `ArrayStream` does the same for the rows of an HDF5 dataset or of a Parquet
file's feature columns (its `source`, defined by the reader of that format): blocks of
contiguous rows (HDF5: 64 batches; Parquet: a row group) are read in a shuffled order,
shuffled within, and cut into batches.
"""

import numpy as np

DECODABLE = {".png", ".jpg", ".jpeg", ".gif", ".bmp"}  # what tf.io.decode_image reads


class ImageStream:
    """Images on disk, decoded on the fly to float32 in [0, 1] of shape (height, width,
    channels)."""

    ndim = 4

    def __init__(self, paths, height, width, channels):
        self.paths = np.asarray([str(p) for p in paths])
        self.height, self.width, self.channels = height, width, channels

    def __len__(self):
        return len(self.paths)

    @property
    def shape(self):
        return (len(self.paths), self.height, self.width, self.channels)

    def __getitem__(self, index):
        return ImageStream(self.paths[index], self.height, self.width, self.channels)

    def batches(self, batch_size, labels=None, shuffle_seed=None):
        """A `tf.data.Dataset` of batches of images (and labels, if given)."""
        import tensorflow as tf

        def load(path):
            image = tf.io.decode_image(tf.io.read_file(path), channels=self.channels,
                                       expand_animations=False)
            image = tf.image.resize(image, (self.height, self.width))
            return tf.cast(image, tf.float32) / 255.0

        items = self.paths if labels is None else (self.paths, labels)
        pipeline = tf.data.Dataset.from_tensor_slices(items)
        if shuffle_seed is not None:
            pipeline = pipeline.shuffle(len(self), seed=shuffle_seed,
                                        reshuffle_each_iteration=True)
        if labels is None:
            pipeline = pipeline.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            pipeline = pipeline.map(lambda path, label: (load(path), label),
                                    num_parallel_calls=tf.data.AUTOTUNE)
        return pipeline.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def in_order(x, y=None, weight=None, batch_size=256):
    """The samples `x` (and targets `y`, sample weights `weight`) in order, in batches of
    `batch_size` (the last one smaller), as what `Model.evaluate`, `predict` and a fit's
    validation read; a stream's own pipeline for a stream (which has no weights).

    Keras' adapter for arrays builds and traces a new pipeline at every call, and every
    run scores twice and validates every epoch: `python bench/evaluate_inputs.py` (1,200
    arrays of 12x12) gave 133 ms of CPU per `evaluate` with arrays, 31 ms with this
    pipeline. Float arrays are cast to Keras' floatx as its adapter casts them, so the
    batches and scores are the same."""
    if isinstance(x, (ImageStream, ArrayStream)):
        if weight is not None:
            raise ValueError("a stream carries no sample weights")
        return x.batches(batch_size, y, None)
    import keras
    import tensorflow as tf

    def floatx(array):
        array = np.asarray(array)
        return array.astype(keras.backend.floatx()) if array.dtype.kind == "f" else array

    items = tuple(tf.nest.map_structure(floatx, a) for a in (x, y, weight) if a is not None)
    return tf.data.Dataset.from_tensor_slices(items if len(items) > 1 else items[0]) \
        .batch(batch_size)


def keras_inputs(x, y=None, batch_size=32, shuffle_seed=None):
    """(x, y, batch_size) of the training data for `Model.fit`: arrays pass through
    (Keras batches and shuffles them); a stream becomes a batched pipeline carrying its
    labels, with y and batch_size None as Keras requires for datasets. What is read in
    order (scoring, prediction, validation) comes from `in_order`."""
    if isinstance(x, (ImageStream, ArrayStream)):
        return x.batches(batch_size, y, shuffle_seed), None, None
    return x, y, batch_size


class ArrayStream:
    """Rows `rows` (sorted) of a `source` on disk, float32 samples of `sample_shape`,
    read a block of rows at a time.

    source: what holds the rows (an HDF5 dataset, a Parquet file's feature columns):
        `n_rows`; `blocks(size)` -> [(start, stop), ...], ranges of the file's rows that
        are cheap to read together (HDF5: `size` rows; Parquet: its row groups); and
        `reader()`, a context manager giving read(start, stop) -> float32 samples
        (stop - start, *sample_shape) of rows start..stop-1 of one block.
    kind: "vector" or "image", the dataset's kind.
    """

    CHUNK_BATCHES = 64  # batches per block of an HDF5 source (a contiguous range of rows)

    def __init__(self, source, rows, sample_shape, kind):
        self.source, self.rows = source, np.asarray(rows)
        self.sample_shape, self.kind = tuple(sample_shape), kind
        self.ndim = 1 + len(self.sample_shape)
        self._epoch = 0

    def __len__(self):
        return len(self.rows)

    @property
    def shape(self):
        return (len(self.rows), *self.sample_shape)

    def __getitem__(self, index):
        return ArrayStream(self.source, self.rows[index], self.sample_shape, self.kind)

    def pieces(self, batch_size):
        """[(lo, hi), ...]: positions lo..hi-1 of `rows` that fall in each block."""
        bounds = self.source.blocks(batch_size * self.CHUNK_BATCHES)
        if not bounds or not len(self.rows):
            return []
        edges = np.searchsorted(self.rows, [a for a, _ in bounds] + [bounds[-1][1]])
        return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]

    def blocks(self, batch_size, shuffle_seed=None):
        """Yield (lo, hi, samples, picked) block by block: the float32 samples of
        rows[lo:hi], in the file's order or, with `shuffle_seed`, blocks in a shuffled
        order (a new one each pass) and samples permuted within by `picked` (else None)."""
        pieces = self.pieces(batch_size)
        rng = None
        if shuffle_seed is not None:
            rng = np.random.default_rng(shuffle_seed + self._epoch)
            self._epoch += 1
            pieces = [pieces[i] for i in rng.permutation(len(pieces))]
        with self.source.reader() as read:
            for lo, hi in pieces:
                rows = self.rows[lo:hi]
                first = int(rows[0])
                block = read(first, int(rows[-1]) + 1)
                if len(block) != len(rows):  # a sparse split: the rows it has of the span
                    block = block[rows - first]
                picked = None if rng is None else rng.permutation(hi - lo)
                yield lo, hi, (block if picked is None else block[picked]), picked

    def chunks(self, batch_size, labels=None, shuffle_seed=None):
        """(x, y) batches (x alone without labels) of this pass over the rows."""
        for lo, hi, block, picked in self.blocks(batch_size, shuffle_seed):
            y = None if labels is None else (
                labels[lo:hi] if picked is None else labels[lo:hi][picked])
            for at in range(0, hi - lo, batch_size):
                x = block[at:at + batch_size]
                yield x if y is None else (x, y[at:at + batch_size])

    def batches(self, batch_size, labels=None, shuffle_seed=None):
        """A `tf.data.Dataset` of batches of samples (and labels, if given): Python hands
        tf.data whole blocks, which `rebatch` cuts into batches in C++ (one Python call
        per block, not one per batch)."""
        import tensorflow as tf

        x_spec = tf.TensorSpec((None, *self.sample_shape), tf.float32)
        signature = x_spec
        if labels is not None:
            labels = np.asarray(labels)
            signature = (x_spec, tf.TensorSpec((None, *labels.shape[1:]),
                                               tf.as_dtype(labels.dtype)))

        def blocks():
            for lo, hi, block, picked in self.blocks(batch_size, shuffle_seed):
                if labels is None:
                    yield block
                else:
                    yield block, labels[lo:hi] if picked is None else labels[lo:hi][picked]

        pipeline = tf.data.Dataset.from_generator(blocks, output_signature=signature)
        pipeline = pipeline.rebatch(batch_size)  # across blocks too, as Keras batches
        count = -(-len(self) // batch_size)  # Keras needs the number of batches
        pipeline = pipeline.apply(tf.data.experimental.assert_cardinality(count))
        return pipeline.prefetch(tf.data.AUTOTUNE)

    def moments(self):
        """(mean, variance) per feature of the rows, float64, in one pass a block at a
        time (Chan et al.'s pairwise combination of block means and squared deviations,
        so that values of 1e6 +- 1 keep their variance)."""
        count, mean, squares = 0, 0.0, 0.0
        for _, _, block, _ in self.blocks(1024):
            block = block.reshape(len(block), -1).astype(np.float64)
            n, block_mean = len(block), block.mean(axis=0)
            block_squares = ((block - block_mean) ** 2).sum(axis=0)
            delta, total = block_mean - mean, count + n
            mean = mean + delta * n / total
            squares = squares + block_squares + delta ** 2 * count * n / total
            count = total
        return mean, squares / max(count, 1)

    def check_finite(self, name, where):
        """Refuse NaN or infinite values, reading every row once, a block at a time
        (before training: an error inside tf.data would not be one line).

        where(row, column) -> text: where the file's value is ("row 7, column 'pt'")."""
        from mlphys.data_checks import check_finite

        for lo, _, block, _ in self.blocks(1024):
            check_finite(name, {"x": block}, lambda key, index: where(
                int(self.rows[lo + index[0]]), index[1:]))
