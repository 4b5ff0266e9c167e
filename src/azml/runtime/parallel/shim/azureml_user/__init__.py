"""The ``azureml_user`` package AzureML's ParallelRunStep driver provides to entry scripts."""
