"""The baseline for bench/train_overhead.py: the MLMM 7.14.5 CNN in plain Keras, fitted on
the same digits arrays as `mlphys train cnn -d digits`, with nothing else around it."""

import sys

import keras
from keras import layers

import mlphys

epochs, seed = int(sys.argv[1]), int(sys.argv[2])
keras.utils.set_random_seed(seed)
data = mlphys.load_dataset("digits")
model = keras.Sequential([
    keras.Input(data.spec.input_shape),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
          epochs=epochs, batch_size=32, verbose=0)
