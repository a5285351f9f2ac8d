"""The operator commands: ``batchdrop status``, ``job``, ``cost``, ``documents`` and ``cancel``.

They serve the local stack and deployed stacks alike, so nothing here imports the local stack
(batchdrop_local); its ``batchdrop`` command offers these through ``batchdrop_ops.cli``. Jobs
are read through the functions' own jobs adapter (batchdrop.adapters.dynamodb_jobs.JobStore) as
typed JobRecords, and the bucket through theirs (batchdrop.adapters.s3_bucket.DocumentStore).

    target.py    which stack: the local stack's state file, or a deployed stack's Outputs
    reading.py   what a command reads: jobs, a job's manifest, summary and documents table
    render/      the text: tables, bars and money (text), each command's view
    times.py     --since as the operator writes it, ages as the views show them
    watch.py     redrawing a view until nothing is open
    commands.py  the commands: read, render, print; one-line errors with exit status 2
    cli.py       their argparse subcommands, added to the ``batchdrop`` command
    defaults.py  the options' defaults (no imports: the parser loads no boto3)
    errors.py    ReportError, the one-line error a command tells
"""
