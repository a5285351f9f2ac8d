"""Settings every Lambda container of this stack has (template.yaml Globals), set before any
test imports the code: Powertools reads them when its Logger and Metrics are created."""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "batchdrop")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "batchdrop")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
