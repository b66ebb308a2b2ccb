"""Building blocks below the estimators: nothing here imports them."""
