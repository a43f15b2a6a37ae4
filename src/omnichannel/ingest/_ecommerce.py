"""The Segment e-commerce v2 event catalogue, as data."""

from __future__ import annotations

from omnichannel.models._commerce import MONEY_FIELDS

__all__ = [
    "ECOMMERCE_EVENTS",
    "LEGACY_NAMES",
    "MONEY_FIELDS",
    "SINGLE_PRODUCT_EVENTS",
    "canonical_event_name",
]

#: Every v2 semantic e-commerce event name.
ECOMMERCE_EVENTS = frozenset(
    {
        "Products Searched", "Product List Viewed", "Product List Filtered",
        "Promotion Viewed", "Promotion Clicked",
        "Product Clicked", "Product Viewed", "Product Added", "Product Removed",
        "Cart Viewed", "Checkout Started", "Checkout Step Viewed", "Checkout Step Completed",
        "Payment Info Entered", "Order Completed", "Order Updated", "Order Refunded",
        "Order Cancelled",
        "Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed",
        "Product Added to Wishlist", "Product Removed from Wishlist",
        "Wishlist Product Added to Cart",
        "Product Shared", "Cart Shared",
        "Product Reviewed",
    }
)  # fmt: skip

#: v1 (and GA Enhanced E-commerce) names and the v2 event each means.
LEGACY_NAMES = {
    "Viewed Product Category": "Product List Viewed",
    "Clicked Product": "Product Clicked",
    "Viewed Product": "Product Viewed",
    "Added Product": "Product Added",
    "Removed Product": "Product Removed",
    "Started Order": "Checkout Started",
    "Viewed Checkout Step": "Checkout Step Viewed",
    "Completed Checkout Step": "Checkout Step Completed",
    "Updated Order": "Order Updated",
    "Completed Order": "Order Completed",
    "Viewed Promotion": "Promotion Viewed",
    "Clicked Promotion": "Promotion Clicked",
}

#: Events whose Product object sits at the top level of ``properties``.
SINGLE_PRODUCT_EVENTS = frozenset(
    {
        "Product Clicked", "Product Viewed", "Product Added", "Product Removed",
        "Product Added to Wishlist", "Product Removed from Wishlist",
        "Wishlist Product Added to Cart", "Product Shared", "Product Reviewed",
    }
)  # fmt: skip


def canonical_event_name(name: str) -> str:
    """Return the v2 name for a legacy e-commerce event name, or ``name`` unchanged.

    Examples:
        >>> canonical_event_name("Completed Order")
        'Order Completed'
        >>> canonical_event_name("Signed Up")
        'Signed Up'
    """
    return LEGACY_NAMES.get(name, name)
