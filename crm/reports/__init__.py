"""Reports (报表): the daily figures, the weekly callback analysis (周回访情况分析表) and the
monthly report, computed from the database as typed data; the web package shows and exports
them."""
