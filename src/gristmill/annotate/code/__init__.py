"""Steps for source code (inputs of ``format: code``): the StarCoder filters and secret redaction."""
