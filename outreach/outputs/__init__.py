"""What the warehouse hands to people: the run report, the return lists (退回清单) and follow-up
lists (待走访清单) for senders, the quarterly report workbook, the blank templates, the dbt docs
site, and the one safe xlsx writer they all use."""
