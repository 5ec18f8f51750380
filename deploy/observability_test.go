package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// The metric names in these files are checked against the server's /metrics by TestObservability
// (cmd/kudos); this file checks that the files fit together as docker-compose.yml mounts them.

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

// mounts returns a service's bind mounts from the repository: target → source (relative to the root).
func (s composeService) mounts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if !strings.HasPrefix(parts[0], "./") {
			continue // a named volume
		}
		src := filepath.Join("..", parts[0])
		if _, err := os.Stat(src); err != nil {
			t.Errorf("mount %q: %v", v, err)
		}
		out[parts[1]] = parts[0]
	}
	return out
}

// TestComposeProvisionsPrometheusAndGrafana: Prometheus gets its config and the alert rules where the
// config says, scrapes the nodes where they serve metrics; Grafana gets the data source the dashboard uses
// and loads the dashboard from where it is mounted; the dashboard is well formed.
func TestComposeProvisionsPrometheusAndGrafana(t *testing.T) {
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	readYAML(t, "../docker-compose.yml", &compose)
	prom, graf := compose.Services["prometheus"], compose.Services["grafana"]
	if prom.Image == "" || graf.Image == "" {
		t.Fatalf("docker-compose.yml has no prometheus or grafana service")
	}

	// Prometheus: config and rules mounted where the command and the config point.
	pm := prom.mounts(t)
	var configPath string
	for _, a := range prom.Command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			configPath = v
		}
	}
	if pm[configPath] != "./deploy/prometheus/prometheus.yml" {
		t.Errorf("prometheus --config.file=%s is not deploy/prometheus/prometheus.yml (mounts %v)", configPath, pm)
	}
	var promCfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &promCfg)
	if len(promCfg.RuleFiles) != 1 || pm[promCfg.RuleFiles[0]] != "./deploy/prometheus/alerts.yml" {
		t.Errorf("rule_files %v do not load the mounted deploy/prometheus/alerts.yml (mounts %v)", promCfg.RuleFiles, pm)
	}
	var targets []string
	for _, sc := range promCfg.ScrapeConfigs {
		if sc.JobName != "kudos" {
			continue
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, node := range []string{"kudos-a", "kudos-b"} {
		if _, ok := compose.Services[node]; !ok {
			t.Fatalf("no service %s in docker-compose.yml", node)
		}
	}
	// kudos-b inherits kudos-a's environment (a YAML merge): the metrics address is kudos-a's.
	_, port, _ := strings.Cut(compose.Services["kudos-a"].Environment["KUDOS_METRICS_ADDR"], ":")
	if port == "" || strings.Join(targets, ",") != "kudos-a:"+port+",kudos-b:"+port {
		t.Errorf("job kudos scrapes %v, want kudos-a and kudos-b on the KUDOS_METRICS_ADDR port %q", targets, port)
	}

	// Grafana: the provisioned data source is the one the dashboard names, the provider loads the mounted
	// dashboards.
	gm := graf.mounts(t)
	if gm["/etc/grafana/provisioning"] != "./deploy/grafana/provisioning" {
		t.Errorf("grafana mounts %v: deploy/grafana/provisioning is not at /etc/grafana/provisioning", gm)
	}
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("data sources %+v, want the compose service prometheus", ds.Datasources)
	}
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/kudos.yml", &providers)
	if len(providers.Providers) != 1 || gm[providers.Providers[0].Options.Path] != "./deploy/grafana/dashboards" {
		t.Errorf("dashboard provider %+v does not read the mounted deploy/grafana/dashboards (mounts %v)", providers.Providers, gm)
	}

	// The dashboard: unique uid and panel ids, every panel placed and querying the provisioned source.
	b, err := os.ReadFile("grafana/dashboards/kudos.json")
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	var dash struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []struct {
			ID         int         `json:"id"`
			Type       string      `json:"type"`
			Title      string      `json:"title"`
			Datasource *datasource `json:"datasource"`
			GridPos    *struct {
				H, W, X, Y int
			} `json:"gridPos"`
			Targets []struct {
				RefID      string      `json:"refId"`
				Expr       string      `json:"expr"`
				Datasource *datasource `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion == 0 {
		t.Errorf("dashboard uid %q title %q schemaVersion %d", dash.UID, dash.Title, dash.SchemaVersion)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != ds.Datasources[0].UID || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %+v, %d targets; want the provisioned %q and a query", p.Title, p.Datasource, len(p.Targets), ds.Datasources[0].UID)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" || refs[q.RefID] || q.Datasource == nil || q.Datasource.UID != ds.Datasources[0].UID {
				t.Errorf("panel %q: target %+v", p.Title, q)
			}
			refs[q.RefID] = true
			queries++
		}
	}
	t.Logf("dashboard %q: %d panels, %d queries", dash.Title, len(dash.Panels), queries)
}
