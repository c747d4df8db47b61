-- The head and checkpoint of each access-history chain carry a MAC under the chain key, so neither can be
-- rewritten to hide removed events. Empty until the head is next written (verify reports it as unsealed).
ALTER TABLE audit_chain_heads ADD COLUMN row_mac TEXT NOT NULL DEFAULT '';
