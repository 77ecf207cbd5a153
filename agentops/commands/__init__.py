"""One module per command: each takes plain arguments and returns plain data to print."""
