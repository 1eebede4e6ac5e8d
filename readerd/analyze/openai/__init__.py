"""The OpenAI-compatible analyser: one request asks for both tools, and what comes back is checked.

analyzer     OpenAIAnalyzer: chunks long articles, walks the request ladder, repairs, accepts
client       ChatClient: the one HTTP client of the endpoint (chat, GET /models, model_listed)
prompts      the messages; pure text from the article and the tool registry
reply        reading replies (tool calls, JSON, text-embedded calls) and classifying HTTP problems
profiles     the request ladder and what each server accepted (ServerProfiles), chunk sizes
probe        which tool-choice mode a server honours (doctor)
model_choice an endpoint set without READERD_LLM_MODEL: its only model, or a clear refusal

Importing this package loads nothing: the openai client takes about a second to import,
so `readerd.analyze` imports `analyzer` only when an OpenAIAnalyzer is made.
"""
