"""`python -m batchdrop_local.bedrock_emulator --port N --aws-endpoint URL`."""

import sys

from batchdrop_local.bedrock_emulator.cli import main

sys.exit(main())
