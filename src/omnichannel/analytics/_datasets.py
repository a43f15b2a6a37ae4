"""Sample data for the analytics guides and tests: the CDNOW purchases."""

from __future__ import annotations

from importlib import resources
from typing import Any

from omnichannel.analytics._frames import module

__all__ = ["cdnow_sample"]


def cdnow_sample() -> Any:
    """The CDNOW sample: 6,919 purchases by 2,357 customers, 1997-01-01 to 1998-06-30.

    The data of Fader, Hardie and Lee (2005), "Counting Your Customers the
    Easy Way" (the BG/NBD paper): customers of the online CD shop CDNOW who
    first bought in the first quarter of 1997, followed for 78 weeks. The
    paper calibrates on the first 39 weeks (to 1997-09-30). Shipped with the
    package (from ``lifetimes``, MIT licence); no download.

    Returns:
        A pandas DataFrame with the columns ``customer_id`` (int, 1 to
        2,357), ``date`` (datetime, whole days), ``quantity`` (int, CDs
        bought) and ``amount`` (float, US dollars).

    Raises:
        OmnichannelError: pandas is not installed (the ``analytics`` extra).

    Examples:
        >>> from omnichannel.analytics._datasets import cdnow_sample
        >>> transactions = cdnow_sample()
        >>> len(transactions), transactions["customer_id"].nunique()
        (6919, 2357)
        >>> transactions.head(2)
           customer_id       date  quantity  amount
        0            1 1997-01-01         2   29.33
        1            1 1997-01-18         2   29.73

    .. versionadded:: 0.1.0
    """
    pd = module("pandas")
    data = resources.files("omnichannel.analytics") / "_data" / "cdnow_sample.csv"
    with data.open("rb") as stream:
        return pd.read_csv(
            stream,
            dtype={"customer_id": "int64", "quantity": "int64", "amount": "float64"},
            parse_dates=["date"],
        )
