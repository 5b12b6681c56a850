"""How numbers are written: shared by the text and LaTeX printers (no math, only digits)."""
from __future__ import annotations


def decimal_text(number):
    """A rational number as the decimal a person wrote (851/500 → '1.702'), or None.

    Only fractions with a factor 5 in the denominator, whose decimal expansion ends within
    15 significant digits, are written so: 1/2 and 3/8 stay fractions, as textbooks write
    them; 0.044715 typed by a user stays 0.044715."""
    if not number.is_Rational or number.is_Integer:
        return None
    p, q = int(number.p), int(number.q)
    twos = fives = 0
    while q % 2 == 0:
        q //= 2
        twos += 1
    while q % 5 == 0:
        q //= 5
        fives += 1
    if q != 1 or fives == 0:
        return None
    places = max(twos, fives)
    digits = str(abs(p) * 10 ** places // (2 ** twos * 5 ** fives))
    if len(digits.lstrip("0")) > 15:
        return None
    digits = digits.rjust(places + 1, "0")
    return ("-" if p < 0 else "") + digits[:-places] + "." + digits[-places:]
