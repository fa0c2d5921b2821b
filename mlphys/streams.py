"""Image folders and HDF5 arrays read batch by batch from disk (`--stream`), for data
larger than memory.

An `ImageStream` is a list of image files of one size. It behaves enough like an array
of images (`len`, `shape`, indexing by an array of indices) for the dataset splits to
work on it unchanged, and hands Keras a `tf.data` pipeline: shuffle the file names,
read, decode and resize in parallel, batch, prefetch. Only a few batches are ever in
memory. An `ArrayStream` does the same for the rows of an HDF5 dataset: chunks of
contiguous rows are read in a shuffled order, shuffled within, and cut into batches.
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


def keras_inputs(x, y=None, batch_size=32, shuffle_seed=None):
    """(x, y, batch_size) for `Model.fit`, `evaluate` and `predict`: arrays pass through
    (Keras batches and shuffles them); a stream becomes a batched pipeline carrying its
    labels, with y and batch_size None as Keras requires for datasets."""
    if isinstance(x, (ImageStream, ArrayStream)):
        return x.batches(batch_size, y, shuffle_seed), None, None
    return x, y, batch_size


class ArrayStream:
    """Rows `rows` of the HDF5 dataset `name` in `file`, as float32 samples (uint8 images
    scaled to [0, 1], (H, W) images given a channel axis), read a chunk at a time."""

    CHUNK_BATCHES = 64  # batches read from the file at once (a contiguous range of rows)

    def __init__(self, file, name, rows, sample_shape, kind):
        self.file, self.name, self.rows = str(file), name, np.asarray(rows)
        self.sample_shape, self.kind = tuple(sample_shape), kind
        self.ndim = 1 + len(self.sample_shape)
        self._epoch = 0

    def __len__(self):
        return len(self.rows)

    @property
    def shape(self):
        return (len(self.rows), *self.sample_shape)

    def __getitem__(self, index):
        return ArrayStream(self.file, self.name, self.rows[index], self.sample_shape,
                           self.kind)

    def _samples(self, block):
        from mlphys.data._images import as_unit_images

        return as_unit_images(block) if self.kind == "image" else block.astype(np.float32)

    def chunks(self, batch_size, labels=None, shuffle_seed=None):
        """(x, y) batches (x alone without labels) of this pass over the rows."""
        import h5py

        size = batch_size * self.CHUNK_BATCHES
        order = np.arange(0, len(self.rows), size)
        rng = None
        if shuffle_seed is not None:
            rng = np.random.default_rng(shuffle_seed + self._epoch)
            self._epoch += 1
            rng.shuffle(order)
        with h5py.File(self.file, "r") as handle:
            dataset = handle[self.name]
            for start in order:
                rows = self.rows[start:start + size]
                first = int(rows[0])
                block = self._samples(dataset[first:int(rows[-1]) + 1][rows - first])
                picked = np.arange(len(rows)) if rng is None else rng.permutation(len(rows))
                for at in range(0, len(rows), batch_size):
                    chosen = picked[at:at + batch_size]
                    yield block[chosen] if labels is None else (
                        block[chosen], labels[start:start + size][chosen])

    def batches(self, batch_size, labels=None, shuffle_seed=None):
        """A `tf.data.Dataset` of batches of samples (and labels, if given)."""
        import tensorflow as tf

        x_spec = tf.TensorSpec((None, *self.sample_shape), tf.float32)
        signature = x_spec
        if labels is not None:
            labels = np.asarray(labels)
            signature = (x_spec, tf.TensorSpec((None, *labels.shape[1:]),
                                               tf.as_dtype(labels.dtype)))
        pipeline = tf.data.Dataset.from_generator(
            lambda: self.chunks(batch_size, labels, shuffle_seed), output_signature=signature)
        size = batch_size * self.CHUNK_BATCHES  # Keras needs the number of batches
        count = sum(-(-min(size, len(self) - start) // batch_size)
                    for start in range(0, len(self), size))
        pipeline = pipeline.apply(tf.data.experimental.assert_cardinality(count))
        return pipeline.prefetch(tf.data.AUTOTUNE)
