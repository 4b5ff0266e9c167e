"""Stand-ins for modules AzureML's batch driver puts on a worker's path.

The worker appends this folder to ``sys.path`` only when the step's environment
has no ``azureml_user`` package of its own.
"""
