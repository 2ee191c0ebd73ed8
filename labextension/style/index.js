import './base.css';
import './workspace.css';
import './datasets.css';
import './models.css';
