"""Provider keys (BYOK), encrypted at rest and decrypted only for the request that needs them.

``store`` owns ``vault.json`` (entries, unlocking, rekeying), ``crypto`` the AES-256-GCM
envelope and how the data key is sealed, ``provider_keys`` the in-memory index routing asks
"is there an openai key?" without decrypting anything.
"""
