"""What decides a negotiation move: the rule brain (`rules`, with the shared Move and Situation types),
the LLM brain (`llm`, its bounded `moves`), chat models (`models`; `scripted` for tests and demos),
the operator chat's model wrapper (`chat`) and the LangChain tools over the executor (`tools`).
"""
