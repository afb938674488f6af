"""Language models: one small interface (`base`), the registry backends and fakes register in
(`registry`), llama.cpp embedded (`llamacpp`), any OpenAI-compatible server (`openai_http`, `pool`) and
a managed llama-server (`server`); the model's door with fair slots (`gate`), generation under deadlines
(`generate`) and the one thread bridge between blocking streams and their consumers (`bridge`). May
import `index` only."""
