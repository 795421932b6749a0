"""Historical candle data: parse kline files, validate them, import them into the store.

`csv_import` is pure parsing and validation (no database); `importer` ties it to
`slt.storage`; `sample` ships the bundled data; `commands` is the `slt data` CLI.
"""
