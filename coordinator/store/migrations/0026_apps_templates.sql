-- One-click apps (Suble GET /apps) and project templates (GET /projects/{p}/templates).
--   apps:      a catalog row per app version; the customer API shows the newest active row per
--              slug. An instance ordered from an app is built from the app's OS image, and the
--              app's user_data (a script or a #cloud-config) goes to its first boot's cloud-init
--              next to the hostname, user and keys. min_*: what the ordered plan must offer.
--   templates: a project's reusable disks. Saved from an instance's backup (backup_snapshot, once
--              backups exist) or standing for an OS image (image_id without a snapshot), which
--              instances can be ordered from today. Deleted templates keep their row.
--   instances: which app or template an instance was ordered from.

CREATE TABLE apps (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid           text        NOT NULL UNIQUE CHECK (uid LIKE 'app\_%'),
    slug          text        NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    version       text        NOT NULL CHECK (version <> ''),
    name          text        NOT NULL CHECK (name <> ''),
    description   text        NOT NULL DEFAULT '',
    logo          text,
    category      text        NOT NULL CHECK (category <> ''),
    image_id      bigint      NOT NULL REFERENCES os_images (id),
    user_data     text        NOT NULL CHECK (user_data <> ''),
    min_vcpu      integer     NOT NULL DEFAULT 1 CHECK (min_vcpu > 0),
    min_memory_mb integer     NOT NULL DEFAULT 512 CHECK (min_memory_mb > 0),
    min_disk_gb   integer     NOT NULL DEFAULT 10 CHECK (min_disk_gb > 0),
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX apps_newest_by_slug ON apps (slug, id DESC) WHERE active;

-- Each script is the vendor's documented install on the app's image, run once as root by
-- cloud-init on the first boot (output in /var/log/cloud-init-output.log).
INSERT INTO apps (uid, slug, version, name, description, category, image_id, min_vcpu,
                  min_memory_mb, min_disk_gb, user_data)
SELECT 'app_coolify', 'coolify', '4.1.0', 'Coolify',
       'Self-hostable PaaS to deploy apps and databases.', 'panel', id, 2, 4096, 40,
       $ud$#!/bin/bash
# Coolify 4.1.0 with the vendor's install script (https://coolify.io/docs/get-started/installation):
# it installs Docker and starts Coolify; the dashboard is then on port 8000.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y curl ca-certificates
curl -fsSL https://cdn.coollabs.io/coolify/install.sh -o /root/coolify-install.sh
bash /root/coolify-install.sh 4.1.0
$ud$
  FROM os_images WHERE uid = 'img_ubuntu2404';

INSERT INTO apps (uid, slug, version, name, description, category, image_id, min_vcpu,
                  min_memory_mb, min_disk_gb, user_data)
SELECT 'app_gitea', 'gitea', '1.22.6', 'Gitea',
       'Lightweight self-hosted Git service with code review, issues and CI.', 'development',
       id, 1, 1024, 10,
       $ud$#!/bin/bash
# Gitea 1.22.6 installed from the release binary as the Gitea documentation describes
# (https://docs.gitea.com/installation/install-from-binary); the web installer is then on
# port 3000 (SQLite needs no database server).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
VERSION=1.22.6
apt-get update
apt-get install -y git curl ca-certificates
adduser --system --shell /bin/bash --gecos 'Git Version Control' --group \
        --disabled-password --home /home/git git
mkdir -p /var/lib/gitea/custom /var/lib/gitea/data /var/lib/gitea/log
chown -R git:git /var/lib/gitea
chmod -R 750 /var/lib/gitea
mkdir -p /etc/gitea
chown root:git /etc/gitea
chmod 770 /etc/gitea
cd /tmp
curl -fsSLO "https://dl.gitea.com/gitea/${VERSION}/gitea-${VERSION}-linux-amd64"
curl -fsSLO "https://dl.gitea.com/gitea/${VERSION}/gitea-${VERSION}-linux-amd64.sha256"
sha256sum -c "gitea-${VERSION}-linux-amd64.sha256"
install -m 0755 "gitea-${VERSION}-linux-amd64" /usr/local/bin/gitea
cat > /etc/systemd/system/gitea.service <<'UNIT'
[Unit]
Description=Gitea (Git with a cup of tea)
After=network.target

[Service]
Type=simple
User=git
Group=git
WorkingDirectory=/var/lib/gitea/
ExecStart=/usr/local/bin/gitea web --config /etc/gitea/app.ini
Restart=always
RestartSec=2s
Environment=USER=git HOME=/home/git GITEA_WORK_DIR=/var/lib/gitea

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now gitea
$ud$
  FROM os_images WHERE uid = 'img_debian12';

INSERT INTO apps (uid, slug, version, name, description, category, image_id, min_vcpu,
                  min_memory_mb, min_disk_gb, user_data)
SELECT 'app_postgresql', 'postgresql', '15', 'PostgreSQL',
       'The PostgreSQL relational database server from Debian''s own packages.', 'database',
       id, 1, 1024, 10,
       $ud$#!/bin/bash
# PostgreSQL 15 from Debian 12's packages (https://wiki.debian.org/PostgreSql): the cluster
# "main" listens on localhost; connect with `sudo -u postgres psql`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y postgresql
systemctl enable --now postgresql
$ud$
  FROM os_images WHERE uid = 'img_debian12';

CREATE TABLE templates (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid                text        NOT NULL UNIQUE CHECK (uid LIKE 'tpl\_%'),
    project_id         bigint      NOT NULL REFERENCES projects (id),
    name               text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    source_instance_id bigint      REFERENCES instances (id),
    image_id           bigint      REFERENCES os_images (id),
    backup_snapshot    text,
    size_gb            integer     NOT NULL CHECK (size_gb > 0),
    min_disk_gb        integer     NOT NULL CHECK (min_disk_gb > 0),
    -- Integer øre excluding VAT, for keeping the template a month.
    monthly_price_ore  bigint      NOT NULL DEFAULT 0 CHECK (monthly_price_ore >= 0),
    status             text        NOT NULL DEFAULT 'creating'
                       CHECK (status IN ('creating', 'ready', 'error', 'deleting', 'deleted')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    CHECK (image_id IS NOT NULL OR backup_snapshot IS NOT NULL),
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);
CREATE INDEX templates_by_project ON templates (project_id, id) WHERE status <> 'deleted';

ALTER TABLE instances
    ADD COLUMN app_id      bigint REFERENCES apps (id),
    ADD COLUMN template_id bigint REFERENCES templates (id);
