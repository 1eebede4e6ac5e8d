"""`readerd ask`: a question answered from the library, every citation checked in code.

passages      an article as paragraph-packed windows, ranked for a query (pure)
citations     does a quote really occur in the article it cites (pure)
tools         the three tools a model may call: search_library, get_article, answer
library       what the conversation may read: search hits and articles, from store/
conversation  the bounded tool loop on the analysis' OpenAI-compatible client
embeddings    vectors from any /v1/embeddings endpoint (a plain POST)
semantic      the embedding stage and hybrid search (RRF of full text and vectors)
"""
