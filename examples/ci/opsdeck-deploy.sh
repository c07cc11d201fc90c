#!/usr/bin/env bash
# Reports a deploy to Opsdeck, which records it as a standard change on the service (and the
# CIs named) so the next incident there lists it. Runs as a step of GitHub Actions, GitLab CI or
# Jenkins, reading what each sets in the environment; anything can be overridden:
#
#   OPSDECK_URL          https://opsdeck.example.com                           (required)
#   OPSDECK_KEY          the key of any integration of the service              (required)
#   DEPLOY_STATUS        success | failure | rolled_back                         (default success)
#   DEPLOY_CIS           CI names or identities, comma-separated                 (e.g. pay-app)
#   DEPLOY_SUMMARY, DEPLOY_VERSION, DEPLOY_ENVIRONMENT, DEPLOY_STARTED_AT (RFC 3339)
#
# GitHub Actions, as the last step of a deploy job:
#   - name: Tell Opsdeck
#     if: always()
#     env:
#       OPSDECK_URL: ${{ vars.OPSDECK_URL }}
#       OPSDECK_KEY: ${{ secrets.OPSDECK_KEY }}
#       DEPLOY_STATUS: ${{ job.status }}
#       DEPLOY_CIS: pay-app
#     run: ./examples/ci/opsdeck-deploy.sh
set -euo pipefail

: "${OPSDECK_URL:?set OPSDECK_URL to your Opsdeck address}"
: "${OPSDECK_KEY:?set OPSDECK_KEY to an integration key of the service}"

if [[ -n "${GITHUB_ACTIONS:-}" ]]; then
  run_url="${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}"
  id="github-${GITHUB_REPOSITORY}-${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT:-1}"
  what="${GITHUB_REPOSITORY##*/}"; version="${GITHUB_SHA:0:12}"; actor="${GITHUB_ACTOR:-}"
  environment="${GITHUB_REF_NAME:-}"
elif [[ -n "${GITLAB_CI:-}" ]]; then
  run_url="${CI_PIPELINE_URL:-}"; id="gitlab-${CI_PROJECT_PATH}-${CI_PIPELINE_ID}-${CI_JOB_ID:-0}"
  what="${CI_PROJECT_NAME:-}"; version="${CI_COMMIT_SHORT_SHA:-}"; actor="${GITLAB_USER_LOGIN:-}"
  environment="${CI_ENVIRONMENT_NAME:-}"
elif [[ -n "${JENKINS_URL:-}" ]]; then
  run_url="${BUILD_URL:-}"; id="jenkins-${JOB_NAME}-${BUILD_NUMBER}"
  commit="${GIT_COMMIT:-}"; what="${JOB_NAME:-}"; version="${commit:0:12}"; actor="${BUILD_USER_ID:-}"; environment=""
else
  run_url=""; id=""; what="$(basename "$PWD")"; version=""; actor="${USER:-}"; environment=""
fi

status="$(printf '%s' "${DEPLOY_STATUS:-success}" | tr '[:upper:]' '[:lower:]')"
summary="${DEPLOY_SUMMARY:-Deploy ${what} ${DEPLOY_VERSION:-${version}}}"

# JSON strings escaped with sed alone, so the step needs nothing but bash, sed and curl.
j() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\000-\037')"; }
cis="[]"
if [[ -n "${DEPLOY_CIS:-}" ]]; then
  cis="["
  IFS=',' read -ra names <<<"${DEPLOY_CIS}"
  for n in "${names[@]}"; do cis+="$(j "$(printf '%s' "$n" | sed 's/^ *//; s/ *$//')"),"; done
  cis="${cis%,}]"
fi
body="{\"summary\": $(j "$summary"), \"status\": $(j "$status"), \"cis\": ${cis}"
[[ -n "$id" ]] && body+=", \"id\": $(j "$id")"
[[ -n "${DEPLOY_VERSION:-$version}" ]] && body+=", \"version\": $(j "${DEPLOY_VERSION:-$version}")"
[[ -n "${DEPLOY_ENVIRONMENT:-$environment}" ]] && body+=", \"environment\": $(j "${DEPLOY_ENVIRONMENT:-$environment}")"
[[ -n "$actor" ]] && body+=", \"actor\": $(j "$actor")"
[[ -n "$run_url" ]] && body+=", \"url\": $(j "$run_url")"
[[ -n "${DEPLOY_STARTED_AT:-}" ]] && body+=", \"started_at\": $(j "$DEPLOY_STARTED_AT")"
body+="}"

curl --fail-with-body --silent --show-error --max-time 20 --retry 3 --retry-all-errors \
  -H 'Content-Type: application/json' --data "$body" \
  "${OPSDECK_URL%/}/integrations/${OPSDECK_KEY}/deploy"
echo
