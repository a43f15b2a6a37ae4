"""Money as Decimal amount plus ISO 4217 currency; floats are refused, never rounded."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from omnichannel.errors import ValidationError

# ISO 4217 active currency codes (list one). Fund and precious-metal codes
# (XAU, XDR, ...) are left out on purpose: nobody prices a basket in them.
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB
    BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
    HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
    RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a table of codes reads best as text
)


def normalize_currency(value: object, path: str = "$.currency") -> str:
    """Return an ISO 4217 code in upper case, or raise.

    Examples:
        >>> normalize_currency("eur")
        'EUR'
    """
    if not isinstance(value, str):
        raise ValidationError.one(path, "type", f"must be a string, not {type(value).__name__}")
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValidationError.one(path, "unknown_currency", f"{value!r} is not an ISO 4217 code")
    return code


def to_decimal(value: object, path: str = "$.amount") -> Decimal:
    """Return ``value`` as a finite Decimal; accepts Decimal, int and numeric strings, not float."""
    if isinstance(value, (bool, float)):
        raise ValidationError.one(
            path, "type", "floats are not accepted for money; pass a str, int or Decimal"
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, (int, str)):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValidationError.one(path, "invalid", f"{value!r} is not a number") from None
    else:
        raise ValidationError.one(path, "type", f"must be a Decimal, not {type(value).__name__}")
    if not amount.is_finite():
        raise ValidationError.one(path, "not_finite", "must be a finite number")
    return amount


def sum_money(amounts: Iterable[Money | None]) -> Money | None:
    """Add up the known amounts (all in one currency); None if there are none.

    Examples:
        >>> sum_money(
        ...     [Money(amount="1.50", currency="EUR"), None, Money(amount="2", currency="EUR")]
        ... )
        Money(amount=Decimal('3.50'), currency='EUR')
    """
    total: Money | None = None
    for amount in amounts:
        if amount is not None:
            total = amount if total is None else total + amount
    return total


def _amount(value: Any) -> Decimal:
    return to_decimal(value)


def _currency(value: Any) -> str:
    return normalize_currency(value)


@attrs.frozen(kw_only=True)
class Money:
    """An amount of one currency, exact.

    Examples:
        >>> total = Money(amount="89.95", currency="usd") + Money(amount="25.00", currency="USD")
        >>> total
        Money(amount=Decimal('114.95'), currency='USD')
        >>> str(total * 2)
        '229.90 USD'

    .. versionadded:: 0.1.0
    """

    amount: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(converter=_currency)

    @classmethod
    def from_json_number(cls, value: float, currency: str) -> Money:
        """Build Money from a JSON number as written (``19.99``, not its binary neighbour)."""
        # repr() of a float is the shortest text that reads back to it: what the sender
        # wrote. (Integers have the same repr as their text.)
        return cls(amount=Decimal(repr(value)), currency=currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValidationError.one(
                "$.currency",
                "currency_mismatch",
                f"cannot combine {self.currency} and {other.currency}",
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, (int, Decimal)):
            return NotImplemented
        return Money(amount=self.amount * factor, currency=self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)
