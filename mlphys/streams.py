"""Image folders read batch by batch from disk (`--stream`), for data larger than memory.

An `ImageStream` is a list of image files of one size. It behaves enough like an array
of images (`len`, `shape`, indexing by an array of indices) for the dataset splits to
work on it unchanged, and hands Keras a `tf.data` pipeline: shuffle the file names,
read, decode and resize in parallel, batch, prefetch. Only a few batches are ever in
memory.
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
    if isinstance(x, ImageStream):
        return x.batches(batch_size, y, shuffle_seed), None, None
    return x, y, batch_size
