"""Typed e-commerce data: line items of carts and orders, and the money of an order."""

from __future__ import annotations

import attrs

from omnichannel.errors import FieldError, ValidationError
from omnichannel.models._check import optional_text, text
from omnichannel.models._money import Money, normalize_currency, sum_money


def _quantity(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.one(
            f"$.{attribute.name}", "type", f"must be a whole number, not {type(value).__name__}"
        )
    if value < 0:
        raise ValidationError.one(f"$.{attribute.name}", "out_of_range", "must not be negative")


def _price(_instance: object, attribute: attrs.Attribute[Money | None], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Money):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be Money")
    if value.amount < 0:
        raise ValidationError.one(f"$.{attribute.name}", "out_of_range", "must not be negative")


@attrs.frozen(kw_only=True)
class LineItem:
    """One product line of a cart or an order.

    Examples:
        >>> item = LineItem(
        ...     product_id="prd_1044",
        ...     name="Merino Running Socks",
        ...     price=Money(amount="12.50", currency="USD"),
        ...     quantity=2,
        ... )
        >>> item.key, str(item.line_total)
        ('prd_1044', '25.00 USD')

    .. versionadded:: 0.1.0
    """

    product_id: str | None = attrs.field(default=None, validator=optional_text())
    sku: str | None = attrs.field(default=None, validator=optional_text())
    name: str | None = attrs.field(default=None, validator=optional_text())
    category: str | None = attrs.field(default=None, validator=optional_text())
    brand: str | None = attrs.field(default=None, validator=optional_text())
    variant: str | None = attrs.field(default=None, validator=optional_text())
    price: Money | None = attrs.field(default=None, validator=_price)
    quantity: int = attrs.field(default=1, validator=_quantity)

    @property
    def key(self) -> str | None:
        """What identifies the product across channels: product id, else SKU, else name."""
        return self.product_id or self.sku or self.name

    @property
    def line_total(self) -> Money | None:
        """Price times quantity, or None when the price is unknown."""
        return None if self.price is None else self.price * self.quantity


def _optional_money(
    _instance: object, attribute: attrs.Attribute[Money | None], value: object
) -> None:
    if value is not None and not isinstance(value, Money):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be Money")


def _items(
    _instance: object, attribute: attrs.Attribute[tuple[LineItem, ...]], value: object
) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.one(f"$.{attribute.name}", "type", "must be a tuple of LineItem")
    for index, item in enumerate(value):
        if not isinstance(item, LineItem):
            raise ValidationError.one(f"$.{attribute.name}[{index}]", "type", "must be a LineItem")


#: Order money fields, in the order Segment documents them.
MONEY_FIELDS = ("revenue", "total", "subtotal", "shipping", "tax", "discount", "value")


def _currency(value: object) -> str:
    return normalize_currency(value)


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen(kw_only=True)
class Commerce:
    """The typed reading of a Segment e-commerce (v2) semantic event.

    ``event`` is the canonical v2 name (legacy v1 names such as
    ``Completed Order`` are mapped to ``Order Completed``). Money fields keep
    Segment's meanings: ``subtotal`` after discounts before tax and shipping,
    ``revenue`` excluding shipping and tax, ``total`` = subtotal + shipping + tax.

    .. versionadded:: 0.1.0
    """

    event: str = attrs.field(validator=text())
    currency: str = attrs.field(default="USD", converter=_currency)
    order_id: str | None = attrs.field(default=None, validator=optional_text())
    checkout_id: str | None = attrs.field(default=None, validator=optional_text())
    cart_id: str | None = attrs.field(default=None, validator=optional_text())
    coupon: str | None = attrs.field(default=None, validator=optional_text())
    items: tuple[LineItem, ...] = attrs.field(default=(), converter=_tuple, validator=_items)
    revenue: Money | None = attrs.field(default=None, validator=_optional_money)
    total: Money | None = attrs.field(default=None, validator=_optional_money)
    subtotal: Money | None = attrs.field(default=None, validator=_optional_money)
    shipping: Money | None = attrs.field(default=None, validator=_optional_money)
    tax: Money | None = attrs.field(default=None, validator=_optional_money)
    discount: Money | None = attrs.field(default=None, validator=_optional_money)
    value: Money | None = attrs.field(default=None, validator=_optional_money)

    def __attrs_post_init__(self) -> None:
        amounts = [(f"$.{name}", getattr(self, name)) for name in MONEY_FIELDS]
        amounts += [(f"$.items[{i}].price", item.price) for i, item in enumerate(self.items)]
        wrong = [
            FieldError(
                path=path,
                code="currency_mismatch",
                message=f"is in {money.currency}; this reading is in {self.currency}",
            )
            for path, money in amounts
            if money is not None and money.currency != self.currency
        ]
        if wrong:
            raise ValidationError(wrong)

    @property
    def items_total(self) -> Money | None:
        """Sum of price x quantity over the items that have a price (None if none has)."""
        return sum_money(item.line_total for item in self.items)
