"""The command line: the argument parser (``main``) and one module per command group.

``main`` parses and dispatches; ``config_cmd``, ``vault_cmd``, ``traces_cmd``, ``probe_cmd``,
``signing_keys_cmd``, ``mint`` and ``fake_upstream`` each register a sub-command and run it.
The work itself lives in the packages below: serving in ``runtime/``, keys in ``identity/``,
the vault in ``vault/``. The top of the import layers: nothing imports ``cli``.
"""
