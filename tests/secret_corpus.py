"""A corpus of fake but well-formed secrets, one or more per token format on the list.

Written before the redaction patterns were tuned, and held out: the patterns are checked
against it, never derived from it. The formats are those of the public rule sets of two
secret scanners:

- gitleaks ``config/gitleaks.toml`` (github.com/gitleaks/gitleaks, commit 009e025; rule ids
  such as aws-access-token, github-pat, github-fine-grained-pat, gitlab-pat, slack-bot-token,
  slack-webhook-url, stripe-access-token, npm-access-token, openai-api-key,
  anthropic-api-key, twilio-api-key, sendgrid-api-token, gcp-api-key, jwt, private-key,
  age-secret-key, vault-service-token, digitalocean-pat, huggingface-access-token,
  shopify-access-token, databricks-api-token, mailgun-private-api-token, linear-api-key,
  doppler-api-token, postman-api-token, discord, telegram-bot-api-token,
  microsoft-teams-webhook, pypi-upload-token, artifactory-api-key);
- detect-secrets 1.5.0's plugins (github.com/Yelp/detect-secrets, ``detect_secrets/plugins``:
  AWSKeyDetector, AzureStorageKeyDetector, BasicAuthDetector, DiscordBotTokenDetector,
  GitHubTokenDetector, GitLabTokenDetector, JwtTokenDetector, KeywordDetector,
  MailchimpDetector, NpmDetector, OpenAIDetector, PrivateKeyDetector, PypiTokenDetector,
  SendGridDetector, SlackDetector, SquareOAuthDetector, StripeDetector,
  TelegramBotTokenDetector, TwilioKeyDetector, ArtifactoryDetector).

The values are generated from a fixed seed at import, so this file holds no literal token a
push-protection scanner would stop, and the corpus is the same on every run.
"""

from __future__ import annotations

import base64
import random
import string
from typing import NamedTuple


class Secret(NamedTuple):
    kind: str  # the marker it must become: [REDACTED:<kind>]
    value: str  # what must never be written
    text: str  # how it appears in a message (``{}`` is the value)

    def line(self) -> str:
        return self.text.format(self.value)


_rnd = random.Random(15)
_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


def _pick(alphabet: str, n: int) -> str:
    return "".join(_rnd.choice(alphabet) for _ in range(n))


def alnum(n: int) -> str:
    return _pick(_ALNUM, n)


def hexs(n: int) -> str:
    return _pick("0123456789abcdef", n)


def digits(n: int) -> str:
    return _pick("123456789", 1) + _pick(string.digits, n - 1)


def b64(n_bytes: int) -> str:
    return base64.b64encode(_rnd.randbytes(n_bytes)).decode()


def uuid() -> str:
    return f"{hexs(8)}-{hexs(4)}-4{hexs(3)}-a{hexs(3)}-{hexs(12)}"


def _pem(kind: str) -> str:
    body = "\n".join(b64(48) for _ in range(6))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


def _jwt() -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    claims = base64.urlsafe_b64encode(
        b'{"sub":"agent-7","iat":1764570000,"scope":"deploy"}').decode().rstrip("=")
    return f"{head}.{claims}.{base64.urlsafe_b64encode(_rnd.randbytes(32)).decode().rstrip('=')}"


CORPUS: tuple[Secret, ...] = (
    Secret("aws-access-key-id", "AKIA" + _pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
           "assumed role with access key {} in eu-west-1"),
    Secret("aws-access-key-id", "ASIA" + _pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
           "temporary credentials {} expired"),
    Secret("aws-secret-key", alnum(30) + "/" + alnum(4) + "+" + alnum(4),
           'export AWS_SECRET_ACCESS_KEY="{}"'),
    Secret("aws-secret-key", alnum(19) + "/" + alnum(20), "aws_secret_access_key = {}"),
    Secret("github-pat", "ghp_" + alnum(36), "git push failed with token {}"),
    Secret("github-oauth", "gho_" + alnum(36), "oauth token {} revoked"),
    Secret("github-app-token", "ghs_" + alnum(36), "installation token {} used by the runner"),
    Secret("github-refresh-token", "ghr_" + alnum(36), "refresh with {}"),
    Secret("github-fine-grained-pat", "github_pat_" + alnum(22) + "_" + alnum(59),
           "GH_TOKEN={} gh release create"),
    Secret("gitlab-token", "glpat-" + alnum(20), "clone https://gitlab.example.com with {}"),
    Secret("gitlab-token", "glrt-" + alnum(20), "runner registered as {}"),
    Secret("slack-token", f"xoxb-{digits(11)}-{digits(13)}-{alnum(24)}",
           "slack bot {} cannot post to #ops"),
    Secret("slack-token", f"xoxp-{digits(11)}-{digits(11)}-{digits(13)}-{hexs(32)}",
           "user token {} lacks chat:write"),
    Secret("slack-webhook", f"https://hooks.slack.com/services/T{_pick(_UPPER, 10)}/"
           f"B{_pick(_UPPER, 10)}/{alnum(24)}", "notify {} returned 404"),
    Secret("stripe-key", "sk_live_" + alnum(24) + alnum(75), "charge failed: key {}"),
    Secret("stripe-key", "rk_live_" + alnum(24) + alnum(75), "restricted key {} lacks refunds"),
    Secret("npm-token", "npm_" + alnum(36), "npm publish --token {}"),
    Secret("npm-token", "npm_" + alnum(36), "//registry.npmjs.org/:_authToken={}"),
    Secret("openai-api-key", "sk-proj-" + alnum(58) + "T3BlbkFJ" + alnum(58),
           "OpenAI call with {} hit the rate limit"),
    Secret("openai-api-key", "sk-" + alnum(20) + "T3BlbkFJ" + alnum(20),
           "legacy key {} rejected"),
    Secret("anthropic-api-key", "sk-ant-api03-" + _pick(_ALNUM + "_-", 93) + "AA",
           "ANTHROPIC_API_KEY={}"),
    Secret("azure-storage-key", b64(64),
           "DefaultEndpointsProtocol=https;AccountName=opsbackups;AccountKey={};"
           "EndpointSuffix=core.windows.net"),
    Secret("azure-sas-signature", b64(32).replace("+", "%2B").replace("/", "%2F")
           .replace("=", "%3D"),
           "upload to https://opsbackups.blob.core.windows.net/dumps?sv=2022-11-02&ss=b"
           "&srt=o&sp=rw&se=2026-12-31T00:00:00Z&sig={} failed"),
    Secret("twilio-api-key", "SK" + hexs(32), "twilio key {} suspended"),
    Secret("twilio-account-sid", "AC" + hexs(32), "twilio account {} over quota"),
    Secret("sendgrid-api-key", f"SG.{_pick(_ALNUM + '_-', 22)}.{_pick(_ALNUM + '_-', 43)}",
           "mail via sendgrid with {} bounced"),
    Secret("jwt", _jwt(), "session {} expired"),
    Secret("private-key", _pem("RSA "), "ssh deploy key:\n{}"),
    Secret("private-key", _pem("OPENSSH "), "openssh key\n{}\nrejected"),
    Secret("private-key", _pem("EC "), "tls key {} mismatched"),
    Secret("url-password", alnum(16),
           "connection to postgres://orders_app:{}@db.internal:5432/orders refused"),
    Secret("url-password", alnum(12) + "-" + alnum(8),
           "git fetch https://deploy-bot:{}@git.example.com/ops/app.git failed"),
    Secret("url-password", alnum(20), "broker amqp://svc:{}@rabbit.internal:5672/ unreachable"),
    Secret("discord-bot-token",
           "M" + alnum(25) + "." + _pick(_ALNUM + "_-", 6) + "." + _pick(_ALNUM + "_-", 27),
           "discord bot {} logged out"),
    Secret("discord-webhook", f"https://discord.com/api/webhooks/{digits(18)}/"
           f"{_pick(_ALNUM + '_-', 68)}", "alert relay {} rate limited"),
    Secret("teams-webhook", f"https://contoso.webhook.office.com/webhookb2/{uuid()}@{uuid()}"
           f"/IncomingWebhook/{hexs(32)}/{uuid()}", "Teams notification to {} failed"),
    Secret("telegram-bot-token", f"{digits(10)}:AA{_pick(_ALNUM + '_-', 33)}",
           "telegram bot {} blocked"),
    Secret("pypi-token", "pypi-AgEIcHlwaS5vcmc" + _pick(_ALNUM + "_-", 120),
           "twine upload -p {}"),
    Secret("mailchimp-api-key", f"{hexs(32)}-us{_rnd.randint(1, 20)}",
           "mailchimp list sync with {} failed"),
    Secret("square-token", "sq0csp-" + _pick(_ALNUM + "_-", 43), "square oauth secret {}"),
    Secret("square-token", "EAAA" + _pick(_ALNUM + "_-", 60), "square access {} denied"),
    Secret("gcp-api-key", "AIza" + _pick(_ALNUM + "_-", 35), "maps quota exceeded for {}"),
    Secret("artifactory-api-key", "AKCp" + alnum(69), "pull from artifactory with {}"),
    Secret("vault-token", "hvs." + _pick(_ALNUM + "_-", 90), "vault login {} denied"),
    Secret("digitalocean-token", "dop_v1_" + hexs(64), "doctl auth init -t {}"),
    Secret("huggingface-token", "hf_" + _pick(string.ascii_letters, 34), "model pull with {}"),
    Secret("shopify-token", "shpat_" + hexs(32), "shopify admin {} forbidden"),
    Secret("databricks-token", "dapi" + hexs(32), "databricks job with {} failed"),
    Secret("age-secret-key", "AGE-SECRET-KEY-1" + _pick("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
           "sops key {} not found"),
    Secret("mailgun-key", "key-" + hexs(32), "mailgun rejected {}"),
    Secret("linear-api-key", "lin_api_" + alnum(40), "linear sync {} unauthorised"),
    Secret("doppler-token", "dp.pt." + alnum(43), "doppler secrets download --token {}"),
    Secret("postman-api-key", f"PMAK-{hexs(24)}-{hexs(34)}", "newman run with {}"),
    Secret("password", alnum(14), "login failed for admin password={}"),
    Secret("password", alnum(10) + "!" + alnum(6), 'db config {{"password": "{}"}}'),
    Secret("bearer-token", alnum(20) + "." + alnum(20),
           "curl -H 'Authorization: Bearer {}' https://api.internal/deploy"),
    Secret("basic-auth", base64.b64encode(f"ci:{alnum(18)}".encode()).decode(),
           "proxy sent Authorization: Basic {}"),
    Secret("kubeconfig-data", b64(300), "client-key-data: {}"),
    Secret("url-token", alnum(32),
           "POST https://hooks.example.com/notify?channel=ops&token={} returned 500"),
)

TEXT = "\n".join(secret.line() for secret in CORPUS)
