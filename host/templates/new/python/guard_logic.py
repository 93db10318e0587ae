"""The check itself, in plain Python, so that it can be tested natively."""

PHRASE = "ignore previous instructions"


def injected(correction, comment):
    """The field that contains the phrase (ignoring case), or None."""
    for field, text in (("correction", correction), ("comment", comment)):
        if text is not None and PHRASE in text.casefold():
            return field
    return None
