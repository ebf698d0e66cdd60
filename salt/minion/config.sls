{#- The minion's config: its id, the admin box as its master, pinned by the
    master's key fingerprint (the minion refuses any other master). #}
{%- from 'minion/map.jinja' import minion with context %}

salt-minion-config-managed:
  file.managed:
    - name: {{ minion.config }}
    - source: salt://minion/files/minion.conf.jinja
    - template: jinja
    - context:
        minion: {{ minion | json }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
