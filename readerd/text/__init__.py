"""Pure text helpers every layer may use: times as text, language, tags, URLs."""
