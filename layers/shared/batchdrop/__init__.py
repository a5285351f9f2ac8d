"""batchdrop: documents dropped in S3 become one Anthropic Message Batches submission.

The package is shipped in the shared Lambda layer. Its modules are split by what they touch:
pure domain logic (``documents``, ``manifest``, ``pricing``, ``results``, ``s3_events``) never
calls AWS or Anthropic; ``aws/`` and ``anthropic_batches`` hold the only code that does; the
use cases (``submit``, ``poll``, ``complete``) tie them together and are called by the thin
handlers in ``functions/``.
"""
