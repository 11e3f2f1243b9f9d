"""The Gemini front door's conversions: a ``generateContent`` request as an OpenAI chat
request, an OpenAI answer or chunk stream as Gemini's, and errors in Google's shape."""
