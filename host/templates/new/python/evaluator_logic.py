"""The metric itself, in plain Python, so that it can be tested natively."""


def contains(output, references):
    """1.0 when the output contains a reference, ignoring case, else 0.0."""
    output = output.casefold()
    return 1.0 if any(r.casefold() in output for r in references) else 0.0
