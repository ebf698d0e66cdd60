{#- Salt in a venv of its own (minion.venv), pip installing the pinned
    version from the admin box's wheels (copied here) or the site's index. #}
{%- from 'minion/map.jinja' import minion with context %}

salt-minion-pkgs-installed:
  pkg.installed:
    - pkgs: {{ minion.pkgs | json }}

salt-minion-venv-created:
  cmd.run:
    - name: >-
        {{ minion.python }} -m venv
        {%- if minion.system_site_packages %} --system-site-packages{% endif %}
        {{ minion.venv }}
    - creates: {{ minion.venv }}/bin/pip
    - require:
      - pkg: salt-minion-pkgs-installed
{%- if minion.from_master %}

salt-minion-wheels-copied:
  file.recurse:
    - name: {{ minion.wheel_dir }}
    - source: {{ minion.source }}
    - include_pat: '*.whl'
    - clean: True
    - makedirs: True
    - user: root
    - group: root
    - dir_mode: '0755'
    - file_mode: '0644'
{%- endif %}

salt-minion-pip-installed:
  cmd.run:
    - name: >-
        {{ minion.venv }}/bin/pip install --disable-pip-version-check --no-input
        {{ minion.pip_source | join(' ') }} salt=={{ minion.version }}
    - unless: >-
        {{ minion.venv }}/bin/python -c "import sys, salt.version;
        sys.exit(salt.version.__version__ != '{{ minion.version }}')"
    - require:
      - cmd: salt-minion-venv-created
{%- if minion.from_master %}
      - file: salt-minion-wheels-copied
{%- endif %}
{%- for name in minion.links %}

salt-minion-{{ name }}-linked:
  file.symlink:
    - name: /usr/bin/{{ name }}
    - target: {{ minion.venv }}/bin/{{ name }}
    - force: True
    - require:
      - cmd: salt-minion-pip-installed
{%- endfor %}
