"""The clouds' embedding calls as their own SDKs make them, against the simulation:
google-genai's `embed_content` (batchEmbedContents with an API key, predict on Vertex AI),
boto3's `invoke_model` with Titan and Cohere bodies, openai's `AzureOpenAI.embeddings`."""
from __future__ import annotations

import json

import boto3
import openai
from google import genai
from google.genai import types

from clouds_common import (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PROJECT, REGION,
                           google_credentials)


def test_genai_embed_content_with_a_key_and_on_vertex(mock, tmp_path):
    c = genai.Client(api_key="AIza-mock-key",
                     http_options=types.HttpOptions(base_url=f"{mock.url}/p/gem/"))
    r = c.models.embed_content(model="gemini-embedding-001", contents=["alpha", "beta gamma"],
                               config=types.EmbedContentConfig(output_dimensionality=4))
    assert [len(e.values) for e in r.embeddings] == [4, 4]
    assert r.embeddings[0].values != r.embeddings[1].values

    v = genai.Client(vertexai=True, project=PROJECT, location="us-central1",
                     credentials=google_credentials(mock, tmp_path),
                     http_options=types.HttpOptions(base_url=f"{mock.url}/p/vx/"))
    r2 = v.models.embed_content(model="text-embedding-005", contents=["alpha", "beta gamma"],
                                config=types.EmbedContentConfig(output_dimensionality=4))
    # the same text gives the same vector on every wire
    assert [e.values for e in r2.embeddings] == [e.values for e in r.embeddings]
    assert r2.embeddings[1].statistics.token_count == 2
    assert mock.last_request("vx")["path"].endswith("/publishers/google/models/text-embedding-005:predict")


def test_boto3_invoke_model_titan_and_cohere(mock):
    c = boto3.client("bedrock-runtime", endpoint_url=f"{mock.url}/p/br", region_name=REGION,
                     aws_access_key_id=AWS_ACCESS_KEY_ID, aws_secret_access_key=AWS_SECRET_ACCESS_KEY)
    r = c.invoke_model(modelId="amazon.titan-embed-text-v2:0", contentType="application/json",
                       accept="application/json",
                       body=json.dumps({"inputText": "beta gamma", "dimensions": 8}))
    titan = json.loads(r["body"].read())
    assert len(titan["embedding"]) == 8 and titan["inputTextTokenCount"] == 2
    r = c.invoke_model(modelId="cohere.embed-english-v3",
                       body=json.dumps({"texts": ["alpha", "beta gamma"], "input_type": "search_document"}))
    cohere = json.loads(r["body"].read())
    assert len(cohere["embeddings"]) == 2 and cohere["embeddings"][1] == titan["embedding"]


def test_azure_openai_embeddings(mock):
    c = openai.AzureOpenAI(azure_endpoint=f"{mock.url}/p/az", api_key="azure-key-1",
                           api_version="2024-10-21", max_retries=0)
    r = c.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"], dimensions=8)
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == 8
    assert r.usage.prompt_tokens == 3
    assert mock.last_request("az")["path"] == "/openai/deployments/text-embedding-3-small/embeddings"
