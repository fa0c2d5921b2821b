"""The one place where mlphys bridges older releases of its dependencies.

Each shim names the release that brought the API mlphys would otherwise call directly, so
that raising a floor past it shows which shim can go. Nowhere else in mlphys checks a
version.
"""


def pinv(x):
    """`keras.ops.linalg.pinv(x)`, the Moore-Penrose pseudo-inverse.

    Keras < 3.15 has no `pinv`; there TensorFlow's, which is what Keras' TensorFlow backend
    calls (mlphys runs on that backend only).
    """
    import keras

    if hasattr(keras.ops.linalg, "pinv"):
        return keras.ops.linalg.pinv(x)
    import tensorflow as tf  # Keras 3.0 to 3.14

    return tf.linalg.pinv(x)
