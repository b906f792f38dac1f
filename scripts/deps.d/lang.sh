# Tools for the `lang-python-node` fixture (scripts/fixtures.d/lang-python-node.fixture.sh),
# sourced by scripts/install-deps: npm (runs yarn and pnpm through npx) and uv.
# pip comes with python3 (scripts/deps.d/fixtures.sh).
command -v npm >/dev/null || apt_ensure nodejs npm
command -v uv >/dev/null || pip_ensure uv==0.9.5
