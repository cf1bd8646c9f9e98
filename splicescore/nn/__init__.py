"""Neural-network machinery shared by the models: the dilated residual trunk, incremental passes,
batched prediction and the compute engine."""
