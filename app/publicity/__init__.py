"""公示: the ranked lists of an allocated round, published for anyone to read and re-run."""
