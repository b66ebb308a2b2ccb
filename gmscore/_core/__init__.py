"""The layer every model stands on (nothing here imports the estimators):
statistics values, the EM driver, data sources and the covariance-type
table."""
