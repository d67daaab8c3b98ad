# The book pipeline in a box: Node 20 on Debian 12 with Chromium, a Java runtime and EPUBCheck
# from Debian's packages and the fonts from npm. Its default command builds the book whose
# manuscript folder (the one holding book.yaml) is mounted at /book, into /book/dist:
#
#   docker build -t book-pipeline .
#   docker run --rm --cap-add=SYS_ADMIN --user "$(id -u):$(id -g)" \
#     -v "$PWD/manuscript:/book" book-pipeline
#
# Chrome keeps its sandbox because the container runs as a user other than root; the sandbox
# needs user namespaces, which Docker's default seccomp profile allows only with
# --cap-add=SYS_ADMIN (or a seccomp profile that permits them). Run as root (--user root)
# and the pipeline starts Chrome with --no-sandbox instead.
FROM node:20-bookworm-slim

# The same Debian packages as the README's quick start and CI, installed by the same script:
# chromium, a Java runtime, epubcheck, poppler-utils. (The JRE's postinst needs the man folder
# that the slim image leaves out.)
WORKDIR /opt/book-pipeline
COPY .ci/install .ci/install
RUN mkdir -p /usr/share/man/man1 \
 && .ci/install \
 && rm -rf /var/lib/apt/lists/*

# Chromium is Debian's; no browser is downloaded by npm.
ENV PUPPETEER_SKIP_DOWNLOAD=1 \
    PUPPETEER_EXECUTABLE_PATH=/usr/bin/chromium \
    NODE_ENV=production

# npm packages from the lock file, fonts (@fontsource) included; the build needs no dev tools.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY pipeline pipeline
COPY templates templates
# The CLI bundled once, here (pipeline/bundle.mjs): containers start it without tsx and without
# writing into the image.
RUN node --input-type=module -e "import {bundled} from './pipeline/bundle.mjs'; if (!await bundled()) process.exit(1);"

# Not root, so Chrome keeps its sandbox. Any --user works: outputs go to the mounted folder and
# temporary files to /tmp. Problems are reported relative to the working folder, the book.
WORKDIR /book
USER node
ENTRYPOINT ["node", "/opt/book-pipeline/pipeline/bin.js"]
CMD ["build", "--manuscript", "/book", "--out", "/book/dist"]
